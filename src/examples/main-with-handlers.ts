import { Handlers, run } from "../index.js"
import { handlers } from "./handlers.js"

run(Handlers.layer(handlers))
