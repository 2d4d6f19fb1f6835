"""What the inquiry handlers (questions, triage, threads) share: their words and their refusals."""
from __future__ import annotations

from bot.core.messages import Choice, Reply


def render(services, name: str, **data) -> str:
    """The words of template `knowledge/templates/NAME.j2` (for the inquiry and triage handlers)."""
    return services.templates.render(name, **data)


def words(services, word: str, **data) -> str:
    """One of the handlers' short sentences or labels, by name (`knowledge/templates/handler_words.j2`)."""
    return render(services, "handler_words", word=word, **data)


def error_reply(services, message: str, **kw) -> list[Reply]:
    """A private refusal in the inquiry_error template."""
    return [Reply(render(services, "inquiry_error", message=message), kind="error", private=True, **kw)]


def rating_choices(receipt: str, label: str = "{n}점") -> list[Choice]:
    """만족도 buttons, 5 down to 1 (`label` is formatted with n)."""
    return [Choice(label.format(n=n), "inquiry.rate", f"{receipt}:{n}") for n in range(5, 0, -1)]
