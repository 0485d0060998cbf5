"""Gemma-3 270M reference: transformers evaluates the GGUF weights dequantized to
float32 (PyTorch, CPU). Writes teacher-forced next-token summaries, tokenizer
ids and a greedy continuation.

Usage: gemma3.py MODEL_DIR OUT_JSON
"""

import sys

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from common import provenance, write

# Varied prompts for teacher forcing (prose, code, lists, numbers, other languages).
TEXTS = [
    "Once upon a time, in a small village at the edge of a great forest, there lived an old clockmaker "
    "who repaired every clock in the valley. Children would gather at his window to watch the tiny gears "
    "turn, and he would tell them stories about the people who had owned each clock before.",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n    a, b = 0, 1\n    for _ in range(n):\n"
    "        a, b = b, a + b\n    return a\n\n\nprint([fibonacci(i) for i in range(10)])\n",
    "The mitochondrion is an organelle found in most eukaryotic cells. It generates most of the cell's "
    "supply of adenosine triphosphate, which is used as a source of chemical energy. Mitochondria have "
    "their own DNA, which is inherited maternally in most animals.",
    "Shopping list:\n- 2 kg of potatoes\n- 1 dozen eggs\n- olive oil (extra virgin)\n- 3 lemons\n- fresh basil\n"
    "- 500 g of spaghetti\nTotal budget: about 25 euros, paid by card at 18:30 on Friday.",
    "La Révolution française est une période de bouleversements politiques et sociaux en France, qui "
    "commence en 1789. Elle met fin à l'Ancien Régime et remplace la monarchie absolue par une monarchie "
    "constitutionnelle, puis par la Première République.",
    "Q: If a train leaves the station at 3:15 pm and travels 120 kilometres at 80 km/h, when does it "
    "arrive?\nA: The trip takes 120 / 80 = 1.5 hours, so the train arrives at 4:45 pm.\nQ: What is 17 times 23?\nA:",
    "<start_of_turn>user\nWrite a haiku about the sea.<end_of_turn>\n<start_of_turn>model\nGrey waves fold and break,\n"
    "salt wind carries gull voices,\nthe tide keeps its time.<end_of_turn>\n",
    "Dear hiring committee,\n\nI am writing to apply for the position of laboratory technician. Over the past "
    "five years I have maintained spectrometers, prepared buffer solutions and trained new staff in safety "
    "procedures. I would welcome the chance to discuss how my experience fits your team.\n\nKind regards,\nAlex",
    "In 1969, Apollo 11 landed on the Moon. Neil Armstrong and Buzz Aldrin spent about two and a half hours "
    "outside the lunar module, collecting 21.5 kg of samples, while Michael Collins orbited above in the "
    "command module Columbia.",
]

# Strings whose token ids must match exactly (spacing, bytes, emoji, accents).
TOKENIZER_STRINGS = [
    "Hello, world!",
    "  two leading spaces and  double  spaces ",
    "line one\nline two\n\n\ttabbed",
    "naïve café résumé — “quotes” and ‘apostrophes’",
    "emoji 🙂🚀🧪 and CJK 東京都 and Ελληνικά",
    "<start_of_turn>user\nHi there<end_of_turn>\n",
    "1234567890 3.14159 0x7FC00000",
    "",
]

GREEDY_PROMPT = "Once upon a time"
GREEDY_TOKENS = 16
TOP_K = 16
SUBSET = 128


def main():
    model_dir, out = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(model_dir, gguf_file="model.gguf")
    model = AutoModelForCausalLM.from_pretrained(model_dir, gguf_file="model.gguf", dtype=torch.float32)
    model.eval()
    vocab = model.config.vocab_size
    subset = sorted(int(i) for i in np.random.RandomState(0).choice(vocab, SUBSET, replace=False))

    texts = []
    with torch.no_grad():
        for text in TEXTS:
            ids = tok(text)["input_ids"]
            logits = model(torch.tensor([ids])).logits[0].float()
            positions = []
            for row in logits:
                top = torch.topk(row, TOP_K)
                positions.append(
                    {
                        "top_ids": [int(i) for i in top.indices],
                        "top_logits": [round(float(v), 5) for v in top.values],
                        "subset_logits": [round(float(row[i]), 5) for i in subset],
                        "norm": round(float(row.norm()), 4),
                    }
                )
            texts.append({"text": text, "ids": [int(i) for i in ids], "positions": positions})

        gids = tok(GREEDY_PROMPT)["input_ids"]
        gen = model.generate(torch.tensor([gids]), max_new_tokens=GREEDY_TOKENS, do_sample=False)[0][len(gids):]

    write(
        out,
        {
            "model": "gemma3-270m",
            "reference": "transformers AutoModelForCausalLM from the GGUF (weights dequantized to float32), CPU",
            "provenance": provenance("gemma3", f"{model_dir}/model.gguf", ["torch", "transformers", "gguf", "tokenizers"]),
            "subset": subset,
            "texts": texts,
            "tokenizer": [{"text": s, "ids": [int(i) for i in tok(s)["input_ids"]]} for s in TOKENIZER_STRINGS],
            "greedy": {
                "prompt": GREEDY_PROMPT,
                "prompt_ids": [int(i) for i in gids],
                "ids": [int(i) for i in gen],
                "text": tok.decode(gen),
            },
        },
    )


if __name__ == "__main__":
    main()
