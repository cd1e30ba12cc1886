/** What a lint pass remembers while it reads one file top to bottom. */
export interface FileState {
  /** Tables created earlier in this file: locking them harms nobody. */
  created: Set<string>;
  /** A SET lock_timeout / lock_wait_timeout came first. */
  lockTimeout: boolean;
  /** Tables that got a column added (expand) / dropped or renamed (contract). */
  expanded: Set<string>;
  contracted: Set<string>;
}

export function newFileState(): FileState {
  return { created: new Set(), lockTimeout: false, expanded: new Set(), contracted: new Set() };
}
