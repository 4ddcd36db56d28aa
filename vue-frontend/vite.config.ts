/// <reference types="vitest/config" />
import { fileURLToPath, URL } from 'node:url'
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'

// Backend (FastAPI + Socket.IO) used by `npm run dev` and `npm run preview`.
const backend = process.env.SALESBOT_BACKEND_URL ?? 'http://127.0.0.1:8000'

const proxy = {
  '/api': { target: backend, changeOrigin: true },
  '/socket.io': { target: backend, changeOrigin: true, ws: true },
  '/metrics': { target: backend, changeOrigin: true },
}

export default defineConfig({
  base: '/',
  plugins: [
    vue(),
    // Element Plus components (and their CSS) are imported on demand from templates.
    Components({
      dts: false, // element-plus/global (tsconfig types) already types the global components
      resolvers: [ElementPlusResolver({ importStyle: 'css' })],
    }),
  ],
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  server: { port: 5173, proxy },
  preview: { port: 4173, proxy },
  build: {
    outDir: 'dist',
    chunkSizeWarningLimit: 600,
    rollupOptions: {
      output: {
        // Element Plus stays split per component by Rollup (grouping it by hand defeats tree-shaking).
        manualChunks(id) {
          if (!id.includes('node_modules')) return undefined
          if (/node_modules\/(socket\.io-client|socket\.io-parser|engine\.io-client|engine\.io-parser|@socket\.io)\//.test(id)) return 'socket'
          if (/node_modules\/(@vue|vue|vue-router|pinia|vue-i18n|@intlify)\//.test(id)) return 'vue'
          return undefined
        },
      },
    },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/__tests__/**/*.spec.ts', 'tests/unit/**/*.spec.ts'],
    setupFiles: ['tests/unit/setup.ts'],
    restoreMocks: true,
    // Lazy route components compile on first use; on a busy 2-core CI machine that can take seconds.
    testTimeout: 30_000,
    server: { deps: { inline: ['element-plus'] } },
  },
})
