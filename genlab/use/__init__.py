"""Using trained runs: generate text, sample and translate images, collect ratings of what was generated."""
