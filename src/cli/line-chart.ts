import { writeFileSync } from "node:fs";
import { PNG } from "pngjs";

export interface Series {
  readonly points: readonly (readonly [number, number])[];
  readonly color: readonly [number, number, number];
}

/** A plain line chart as PNG: axes, light grid lines at y = 0.1 steps, one line per series. */
export function writeLineChart(path: string, series: readonly Series[], xMax: number, width = 800, height = 400): void {
  const png = new PNG({ width, height });
  png.data.fill(255);
  const margin = 40;
  const plot = (x: number, y: number, [r, g, b]: readonly [number, number, number]): void => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const i = (Math.round(y) * width + Math.round(x)) * 4;
    png.data[i] = r;
    png.data[i + 1] = g;
    png.data[i + 2] = b;
    png.data[i + 3] = 255;
  };
  const toPixel = (x: number, y: number): [number, number] => [margin + (x / xMax) * (width - 2 * margin), height - margin - y * (height - 2 * margin)];
  for (let tick = 0; tick <= 10; tick++) {
    const [, y] = toPixel(0, tick / 10);
    for (let x = margin; x < width - margin; x++) plot(x, y, tick === 0 ? [0, 0, 0] : [225, 225, 225]);
  }
  for (let y = margin; y <= height - margin; y++) plot(margin, y, [0, 0, 0]);
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
  writeFileSync(path, PNG.sync.write(png));
}
