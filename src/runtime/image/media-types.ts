/** The media types a pull understands (OCI image-spec media-types.md and Docker's v2 schema 2). */

export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';

const LAYER_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
]);

/** Sent on every manifest GET: without it a registry may fall back to schema 1 or refuse OCI. */
export const MANIFEST_ACCEPT = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST].join(', ');

export const isIndex = (mediaType: string): boolean => mediaType === OCI_INDEX || mediaType === DOCKER_LIST;
export const isManifest = (mediaType: string): boolean =>
  mediaType === OCI_MANIFEST || mediaType === DOCKER_MANIFEST;
export const isConfig = (mediaType: string): boolean => mediaType === OCI_CONFIG || mediaType === DOCKER_CONFIG;
/** Foreign and non-distributable layers are not listed: they live outside the registry. */
export const isLayer = (mediaType: string): boolean => LAYER_TYPES.has(mediaType);
