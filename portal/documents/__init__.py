"""«Мои документы»: the card's documents, the citizen's uploads among them."""
