import { createApp } from 'vue'
import { createPinia } from 'pinia'
import 'element-plus/theme-chalk/base.css'
import './styles.css'
import App from './App.vue'
import { setupHttpAuth } from './auth/setup'
import { i18n } from './common/i18n'
import { createAppRouter } from './router'

const app = createApp(App)
const pinia = createPinia()
app.use(pinia)
app.use(i18n)
const router = createAppRouter()
setupHttpAuth(router)
app.use(router)
app.mount('#app')
