"""CRM integration: the coupon client and the in-app mock CRM routes."""
