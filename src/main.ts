// The server entry (`npm start`, `bertd serve`): the `bertd` command's other subcommands live in src/cli/.
import { serve } from "./cli/commands/serve.js";

await serve(process.argv.slice(2));
