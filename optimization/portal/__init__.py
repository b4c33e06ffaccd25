"""Portal pages of the optimization app (budgets, savings)."""
