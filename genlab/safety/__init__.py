"""The safety gate for generated text and the screens, audits and reports behind it."""
