import type { Component } from 'vue'
import {
  ChatDotRound,
  Coin,
  HomeFilled,
  Iphone,
  MagicStick,
  Promotion,
  Tickets,
  User,
} from '@element-plus/icons-vue'

/** Icons used by the navigation (imported one by one to keep the bundle small). */
export const navIcons: Record<string, Component> = {
  ChatDotRound,
  Coin,
  HomeFilled,
  Iphone,
  MagicStick,
  Promotion,
  Tickets,
  User,
}
