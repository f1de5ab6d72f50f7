export {
  cgroupDirs,
  findCgroupLayout,
  parseMountinfo,
  readCgroupLayout,
  type CgroupHierarchy,
  type CgroupLayout,
  type LayoutFiles,
  type MountinfoEntry,
} from './mountinfo.js';
export { readStats, type CgroupStats } from './stats.js';
