export * from "./block-limits.js";
export * from "./block-request.js";
export * from "./block-split.js";
export * from "./devmem-place.js";
export * from "./errors.js";
export * from "./nvme-cmd.js";
export * from "./rdma-pgsz.js";
