"""Every binding of a screen (app, screen and every widget in it) as data: the F1 help lists them and the command
palette offers them, so neither can miss an action that has a key."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode
from textual.screen import Screen


@dataclass(frozen=True)
class BoundAction:
    node: DOMNode
    binding: Binding

    @property
    def where(self) -> str:
        return "everywhere" if self.node is self.node.app else type(self.node).__name__

    @property
    def title(self) -> str:
        return self.binding.description or self.binding.action

    @property
    def help(self) -> str:
        return self.binding.tooltip or self.binding.description


def screen_actions(screen: Screen) -> list[BoundAction]:
    """Our bindings (those with an id, and the command palette's) on the app, the screen and each of its widgets,
    first definition wins; Textual's own (Tab focus, Ctrl+C copy, Ctrl+Q) stay out of the help. Keys are those of
    the user's keymap where it remaps them (applied as Textual's Screen._binding_chain applies it)."""
    seen: set[tuple[str, str]] = set()
    found: list[BoundAction] = []
    keymap = screen.app._keymap
    for node in [screen.app, screen, *screen.walk_children()]:
        bindings_map = node._bindings.copy()
        if keymap:
            bindings_map.apply_keymap(keymap)
        for key, bindings in bindings_map.key_to_bindings.items():
            for binding in bindings:
                ours = binding.id is not None or binding.action == "command_palette"
                if ours and binding.description and (key, binding.action) not in seen:
                    seen.add((key, binding.action))
                    found.append(BoundAction(node, binding))
    return found


class ActionsProvider(Provider):
    """The command palette: every action of the current screen, and each theme."""

    def _commands(self) -> list[tuple[str, str, object]]:
        commands = [(f"{a.title} ({a.binding.key_display or a.binding.key})", a.help,
                     partial(self.app.run_action, a.binding.action, a.node)) for a in screen_actions(self.screen)]
        commands += [(f"Theme: {name}", "Switch the colour theme", partial(setattr, self.app, "theme", name))
                     for name in self.app.available_themes if name.startswith("rca-")]
        return commands

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
