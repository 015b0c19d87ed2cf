/**
 * scenarios/: the named what-if scenarios of `phyr simulate`, one layer above the consumers. Each
 * runs one consumer of subsys/ (block O_DIRECT, NVMe PRP/SGL, RDMA MR, dma-buf P2P, devmem RX,
 * VFIO type1 and iommufd) on the same workload twice, the range-list design beside today's kernel
 * way, and returns plain JSON-able metrics and ratios; limits.ts says what size each can take
 * before anything is built.
 */
export * from "./limits.js";
export * from "./run.js";
export * from "./types.js";
export { buildGuest, GUEST_IOVA, type GuestBacking } from "./vfio.js";
