export * from "./provider.js";
export * from "./registry.js";
