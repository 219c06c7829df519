/** The one kubeconfig writer: an admin's client certificate for one API server. */

export interface KubeconfigOptions {
  server: string;
  /** The name the server's certificate is checked against, when not the server's address. */
  tlsServerName?: string;
  ca: string;
  cert: string;
  key: string;
}

export const kubeconfig = (o: KubeconfigOptions): string => `apiVersion: v1
kind: Config
clusters: [{name: edge-local, cluster: {server: "${o.server}", ${o.tlsServerName ? `tls-server-name: ${o.tlsServerName}, ` : ""}certificate-authority: "${o.ca}"}}]
users: [{name: admin, user: {client-certificate: "${o.cert}", client-key: "${o.key}"}}]
contexts: [{name: edge-local, context: {cluster: edge-local, user: admin}}]
current-context: edge-local
`;
