"""«Сообщить об ошибке»: a citizen reports an error in an entry; a registrar resolves it."""
