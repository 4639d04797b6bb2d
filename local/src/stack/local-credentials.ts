/**
 * Dummy credentials the emulators accept (they check a signature is present, not what signed it). A module of its own
 * so that the stack's AWS processes can use them without loading every SDK client aws-env.ts builds.
 */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
