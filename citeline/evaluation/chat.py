"""Follow-up evaluation: does a question asked inside a conversation cite the gold passage?

A dialog set is a jsonl file, one user turn a line, as ``convqa-dev`` ships it::

    {"dialog_id", "turn", "question", "history": [{"role", "content"}, ...],
     "passage_ids": [...], "rewrite": "..."?}

Every turn with history is asked three ways through the same answer path the
``/v1/chat`` route uses: with its history (condensed there), alone (no
history), and, when the set has one, as the person's standalone rewrite. A turn
counts as a hit when one of the answer's citations points into a gold passage.
The numbers that matter are the ratios: history over alone (does the
conversation help?) and history over rewrite (how close to a person's reading?).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from citeline.evaluation.jsonl import records

Message = dict[str, str]
# (messages, the last one being the question) -> (question retrieved with, cited doc ids)
ChatFn = Callable[[Sequence[Message]], tuple[str, list[str]]]


class DialogSetError(Exception):
    """The dialog file is unreadable or malformed; the message names the line."""


@dataclass(frozen=True)
class DialogTurn:
    dialog_id: str
    turn: int
    question: str
    history: list[Message]
    passage_ids: list[str]
    rewrite: str | None


def load_dialogs(path: Path) -> list[DialogTurn]:
    turns: list[DialogTurn] = []
    for n, record in records(path, DialogSetError):
        r: dict[str, Any] = record  # checked field by field below
        try:
            history = [
                {"role": str(m["role"]), "content": str(m["content"])}
                for m in r.get("history") or []
            ]
            turns.append(
                DialogTurn(
                    str(r["dialog_id"]),
                    int(r["turn"]),
                    str(r["question"]),
                    history,
                    [str(p) for p in r.get("passage_ids") or []],
                    r.get("rewrite") or None,
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DialogSetError(f"{path}:{n}: not a dialog turn ({exc})") from None
    if not turns:
        raise DialogSetError(f"{path} holds no turns")
    return turns


@dataclass(frozen=True)
class ChatReport:
    follow_ups: int  # turns with history and gold passages
    with_history: float  # gold passage cited, asked with the conversation
    alone: float  # the same words with no conversation
    with_rewrite_turns: int
    history_on_rewrite_turns: float
    rewrite: float  # the person's standalone rewrite, asked alone

    @property
    def history_over_alone(self) -> float:
        return self.with_history / self.alone if self.alone else float("inf")

    @property
    def history_over_rewrite(self) -> float:
        return self.history_on_rewrite_turns / self.rewrite if self.rewrite else float("inf")

    def as_dict(self) -> dict[str, object]:
        return {
            **asdict(self),
            "history_over_alone": round(self.history_over_alone, 3),
            "history_over_rewrite": round(self.history_over_rewrite, 3),
        }

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("follow-up turns", str(self.follow_ups)),
            ("gold cited, with history", f"{100 * self.with_history:.1f}%"),
            ("gold cited, alone", f"{100 * self.alone:.1f}%"),
            ("ratio history / alone", f"{self.history_over_alone:.2f}x"),
            ("turns with a rewrite", str(self.with_rewrite_turns)),
            (
                "gold cited, with history (those turns)",
                f"{100 * self.history_on_rewrite_turns:.1f}%",
            ),
            ("gold cited, person's rewrite", f"{100 * self.rewrite:.1f}%"),
            ("ratio history / rewrite", f"{self.history_over_rewrite:.2f}x"),
        ]


def _share(hits: list[bool]) -> float:
    return sum(hits) / len(hits) if hits else 0.0


def evaluate_chat(
    chat: ChatFn, turns: list[DialogTurn], log: Callable[[str], None] | None = None
) -> ChatReport:
    history_hits: list[bool] = []
    alone_hits: list[bool] = []
    rewrite_history: list[bool] = []
    rewrite_hits: list[bool] = []
    for t in turns:
        if not t.history or not t.passage_ids:
            continue
        gold = set(t.passage_ids)
        condensed, cited = chat([*t.history, {"role": "user", "content": t.question}])
        hit = bool(gold & set(cited))
        history_hits.append(hit)
        _, cited_alone = chat([{"role": "user", "content": t.question}])
        alone_hits.append(bool(gold & set(cited_alone)))
        marks = f"{'+' if hit else '-'}{'+' if alone_hits[-1] else '-'}"
        if t.rewrite:
            _, cited_rw = chat([{"role": "user", "content": t.rewrite}])
            rewrite_hits.append(bool(gold & set(cited_rw)))
            rewrite_history.append(hit)
            marks += "+" if rewrite_hits[-1] else "-"
        if log is not None:
            # history, alone, rewrite: was a gold passage cited each way
            log(f"{marks} {t.question!r} -> {condensed!r}")
    return ChatReport(
        follow_ups=len(history_hits),
        with_history=_share(history_hits),
        alone=_share(alone_hits),
        with_rewrite_turns=len(rewrite_hits),
        history_on_rewrite_turns=_share(rewrite_history),
        rewrite=_share(rewrite_hits),
    )
