"""Read models for the pages: each page asks one function here for a dataclass holding
everything it shows (names, not ids), and the function applies the rules of who may see
what. Nothing here changes the data except through the use-case services."""
