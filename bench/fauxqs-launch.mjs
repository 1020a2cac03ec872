// Starts fauxqs with request logging off. The packaged CLI (`npx fauxqs`) forces
// `logger: true`, which makes every request format and write a log line; with it
// off we measure the queue, not the logger. install-peers.sh copies this file next
// to fauxqs's node_modules so that the bare import below resolves.
import { startFauxqs } from "fauxqs";

await startFauxqs({ port: Number(process.env.FAUXQS_PORT ?? 4566), logger: false });
