/** Keys of a group certificate's secret (PEM). */
export const CERTIFICATE_KEYS = { ca: 'ca_crt', certificate: 'tls_crt', key: 'tls_key' } as const;
