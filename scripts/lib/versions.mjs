// One place for the tool versions the scripts bootstrap.
export const PNPM_VERSION = '12.4.2';
export const NODE24_VERSION = '24.9.0';
