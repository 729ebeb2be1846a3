import { writeFileSync } from "node:fs";
import { PNG } from "pngjs";
import { drawText, textWidth } from "./pixel-font.js";

type Color = readonly [number, number, number];

export interface Series {
  readonly points: readonly (readonly [number, number])[];
  readonly color: Color;
  /** Shown in the legend (top left) when given. */
  readonly label?: string;
}

export interface ChartOptions {
  readonly width?: number;
  readonly height?: number;
  /** Under the x axis, e.g. "examples". */
  readonly xLabel?: string;
}

const BLACK: Color = [0, 0, 0];
const GRID: Color = [225, 225, 225];

/**
 * A plain line chart as PNG, y from 0 to 1 shown as percentages: axes, light grid lines at
 * y = 0.1 steps, one line per series, tick labels and a legend in a small bitmap font.
 */
export function lineChartPng(series: readonly Series[], xMax: number, options: ChartOptions = {}): Buffer {
  const { width = 800, height = 400 } = options;
  const png = new PNG({ width, height });
  png.data.fill(255);
  const left = 56;
  const right = 24;
  const top = 20;
  const bottom = 44;
  const plot = (x: number, y: number, [r, g, b]: Color): void => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const i = (Math.round(y) * width + Math.round(x)) * 4;
    png.data[i] = r;
    png.data[i + 1] = g;
    png.data[i + 2] = b;
    png.data[i + 3] = 255;
  };
  const toPixel = (x: number, y: number): [number, number] => [left + (x / xMax) * (width - left - right), height - bottom - y * (height - top - bottom)];
  for (let tick = 0; tick <= 10; tick++) {
    const [, y] = toPixel(0, tick / 10);
    for (let x = left; x < width - right; x++) plot(x, y, tick === 0 ? BLACK : GRID);
    if (tick % 2 === 0) {
      const label = `${tick * 10}%`;
      drawText(plot, label, left - 8 - textWidth(label, 1), y - 3, 1, BLACK);
    }
  }
  for (let y = top; y <= height - bottom; y++) plot(left, y, BLACK);
  for (let tick = 0; tick <= 4; tick++) {
    const value = Math.round((xMax * tick) / 4);
    const [x, y] = toPixel(value, 0);
    for (let d = 1; d <= 4; d++) plot(x, y + d, BLACK);
    const label = String(value);
    drawText(plot, label, Math.min(x - textWidth(label, 1) / 2, width - 2 - textWidth(label, 1)), y + 8, 1, BLACK);
  }
  if (options.xLabel) drawText(plot, options.xLabel, left + (width - left - right - textWidth(options.xLabel, 1)) / 2, height - 16, 1, BLACK);
  for (const { points, color } of series) {
    for (let i = 1; i < points.length; i++) {
      const [x0, y0] = toPixel(...points[i - 1]);
      const [x1, y1] = toPixel(...points[i]);
      const steps = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
      for (let s = 0; s <= steps; s++) {
        const x = x0 + ((x1 - x0) * s) / steps;
        const y = y0 + ((y1 - y0) * s) / steps;
        plot(x, y, color);
        plot(x, y + 1, color);
      }
    }
  }
  let legendY = top + 6;
  for (const { label, color } of series) {
    if (!label) continue;
    for (let x = left + 12; x < left + 36; x++) for (let d = 0; d < 3; d++) plot(x, legendY + 2 + d, color);
    drawText(plot, label, left + 42, legendY - 1, 1, BLACK);
    legendY += 14;
  }
  return PNG.sync.write(png);
}

export function writeLineChart(path: string, series: readonly Series[], xMax: number, options: ChartOptions = {}): void {
  writeFileSync(path, lineChartPng(series, xMax, options));
}
