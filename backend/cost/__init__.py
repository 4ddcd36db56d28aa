"""Compute-cost accounting: prices, the LLM call ledger, rollups, budgets and finance reports."""
