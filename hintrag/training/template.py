"""A chat template whose assistant turns carry {% generation %} markers, for assistant-only loss;
and, for train.loss_on=all, the chat rendered to the one text the loss then covers whole.

trl masks the loss to assistant tokens only when the template marks them; few shipped templates
do (SmolLM2's and Qwen2.5's do not). For ChatML templates we use our own marked version, and we
check that it renders the training chats exactly as the model's own template does, so the
student trains on the very text it will be prompted with. The end-of-turn token is inside the
markers: the model must learn to stop.
"""

from __future__ import annotations

from typing import Any, Sequence

from hintrag.errors import ConfigError
from hintrag.llm.base import Message

CHATML_TRAINING = (
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}{% generation %}{{- message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{- '\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def training_template(tokenizer: Any, chats: Sequence[list[Message]], override: str | None = None) -> str:
    """The template to train with: the model's own if marked, else `override`, else ChatML's marked twin."""
    own = tokenizer.chat_template
    if override:
        template = override
    elif "{% generation %}" in own or "{%- generation %}" in own:
        return own
    elif "<|im_start|>" in own:
        template = CHATML_TRAINING
    else:
        raise ConfigError("the model's chat template has no {% generation %} markers and is not ChatML; "
                          "set train.chat_template to a template that marks assistant turns")
    for chat in chats[:8]:
        ours = tokenizer.apply_chat_template(chat, tokenize=False, chat_template=template)
        theirs = tokenizer.apply_chat_template(chat, tokenize=False)
        if ours != theirs:
            raise ConfigError("the training chat template renders the data differently from the model's own "
                              "template; set train.chat_template to a marked copy of the model's template")
    return template


def chat_text(tokenizer: Any, messages: list[Message]) -> str:
    """The chat as the model's own template renders it, the text the student is prompted with
    (train.loss_on=all trains on every token of it). It ends on the last turn's end-of-turn
    token: the separator after it would be one more trained token, and trl, finding no EOS at
    the end, would append a second one."""
    return tokenizer.apply_chat_template(messages, tokenize=False).rstrip()
