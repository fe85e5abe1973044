import { run } from "./Launcher.js"

run()
