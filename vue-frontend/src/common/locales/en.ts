import type { MessageSchema } from './zh-CN'

/** English messages: same keys as zh-CN.ts. */
const en: MessageSchema = {
  app: {
    name: 'Sales Assistant',
    fullName: '销售助手 · WeChat Sales Assistant',
    subtitle: 'AI assistant console for WeChat sales teams',
  },
  common: {
    loading: 'Loading…',
    refresh: 'Refresh',
    cancel: 'Cancel',
    confirm: 'OK',
    save: 'Save',
    create: 'Create',
    edit: 'Edit',
    actions: 'Actions',
    yes: 'Yes',
    no: 'No',
    comingSoon: 'Coming soon',
    backHome: 'Back to home',
    unknownError: 'Request failed, please try again later',
    networkError: 'Cannot reach the server, please check the network',
  },
  roles: {
    admin: 'Administrator',
    manager: 'Manager',
    sales: 'Sales',
    finance: 'Finance',
  },
  lang: {
    label: 'Language',
    'zh-CN': '简体中文',
    en: 'English',
  },
  auth: {
    username: 'Username',
    password: 'Password',
    usernamePlaceholder: 'Enter your username',
    passwordPlaceholder: 'Enter your password',
    submit: 'Log in',
    submitting: 'Logging in…',
    title: 'Log in',
    usernameRequired: 'Please enter your username',
    passwordRequired: 'Please enter your password',
    invalidCredentials: 'Wrong username or password',
    userDisabled: 'This account is disabled, please contact an administrator',
    tooManyAttemptsSeconds: 'Too many login attempts, try again in {n} seconds',
    tooManyAttemptsMinutes: 'Too many login attempts, try again in {n} minutes',
    tooManyAttempts: 'Too many login attempts, please try again later',
    sessionExpired: 'Your session has expired, please log in again',
    logout: 'Log out',
    loggedOut: 'Logged out',
  },
  nav: {
    dashboard: 'Dashboard',
    conversations: 'Conversations',
    devices: 'WeChat accounts',
    sop: 'SOP broadcasts',
    agent: 'Store agent',
    cost: 'Compute cost',
    users: 'Users',
  },
  layout: {
    collapse: 'Collapse menu',
    expand: 'Expand menu',
    organization: 'Organization',
    userMenu: 'User menu',
  },
  realtime: {
    connected: 'Live connection OK',
    connecting: 'Connecting…',
    disconnected: 'Disconnected',
    unauthorized: 'Live connection not authorized',
  },
  dashboard: {
    welcome: 'Welcome back, {name}',
    roleLine: 'Role: {role} · Organization: {org}',
    shortcuts: 'Shortcuts',
    noShortcuts: 'No features available for this role yet',
    open: 'Open',
    status: {
      title: 'System status',
      ok: 'All systems operational',
      degraded: 'Degraded',
      unknown: 'Unknown',
      unreachable: 'Cannot get the system status',
      checkOk: 'OK',
      checkFailed: 'Failing',
      checkedAt: 'Checked at {time}',
      checks: {
        database: 'Database',
        redis: 'Redis',
      },
    },
  },
  pages: {
    conversations: {
      title: 'Conversation workbench',
      description:
        'Watch customer conversations live, take over, release or transfer them, and see why the AI said what it said.',
    },
    devices: {
      title: 'WeChat accounts',
      description:
        'Log sales WeChat accounts in by QR code and manage them: online status, callback URL and contacts.',
    },
    sop: {
      title: 'SOP broadcasts',
      description:
        'Schedule broadcasts by time or customer stage; pause, resume, cancel and follow their progress.',
    },
    agent: {
      title: 'Store agent',
      description:
        'Ask in plain language for sales reports, diagnose metric changes, and plan and run campaigns.',
    },
    cost: {
      title: 'Compute cost',
      description:
        'AI call costs per model, account and user, with budgets, alerts and CSV export.',
    },
  },
  users: {
    title: 'User management',
    total: '{n} users',
    create: 'New user',
    editTitle: 'Edit user',
    createTitle: 'New user',
    username: 'Username',
    displayName: 'Display name',
    role: 'Role',
    status: 'Status',
    active: 'Active',
    inactive: 'Disabled',
    createdAt: 'Created at',
    password: 'Initial password',
    usernameRequired: 'Please enter a username',
    usernamePattern: 'Username: 3-64 letters, digits, underscores, dots, @ or dashes',
    passwordRequired: 'Please enter a password',
    passwordMin: 'The password needs at least 8 characters',
    roleRequired: 'Please choose a role',
    created: 'User {name} created',
    updated: 'Saved',
    enabled: '{name} enabled',
    disabled: '{name} disabled',
    usernameTaken: 'This username is already taken',
    self: ' (me)',
    cannotDisableSelf: 'You cannot disable your own account',
    empty: 'No users',
  },
  conversations: {
    handoff: {
      title: 'Handoff request',
      escalatedTitle: 'Handoff not picked up',
      reason: 'Reason: {reason}',
      view: 'View',
    },
    preview: {
      image: '[Image]',
      link: '[Link]',
      other: '[Message]',
    },
  },
  errors: {
    forbiddenTitle: 'Access denied',
    forbiddenText: 'Your role ({role}) is not allowed to open this page.',
    notFoundTitle: 'Page not found',
    notFoundText: 'The page you are looking for does not exist or was removed.',
  },
}

export default en
