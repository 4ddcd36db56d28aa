"""WeChat accounts (devices): CRUD, QR login, status tracking, contact sync and sending."""
