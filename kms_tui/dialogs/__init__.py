"""Short modal screens: errors, secrets, confirmations, small forms, help."""
