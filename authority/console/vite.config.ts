/**
 * Build of the administration console: a single-page Preact app, every asset bundled (nothing is
 * fetched from the network at run time), served by the authority under `/console/`.
 * Run from the authority package: `vite build console` (see docs/console.md).
 */
import preact from "@preact/preset-vite";
import { defineConfig } from "vite";

export default defineConfig({
  root: import.meta.dirname,
  base: "/console/",
  plugins: [preact({ devToolsEnabled: false, prefreshEnabled: false })],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    assetsInlineLimit: 0,
    reportCompressedSize: false,
  },
  server: {
    // Development only (`vite console`): the API of an authority running on the default port.
    proxy: { "/api": { target: "https://127.0.0.1:4285", changeOrigin: false, secure: false } },
  },
});
