/** vitest setup file: every test file starts with the shared fast-check settings. */
import { configureFastCheck } from "./fc.js";

configureFastCheck();
