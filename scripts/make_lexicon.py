"""Regenerate metaex/data/lexicon.txt: pronounceable, non-English nonce words for grammar instances.

Words are 2–3 syllables of the shapes CV and CVC over a small consonant and vowel inventory (no letters
that make English-looking clusters), 3–7 letters, lowercase. Words in the built-in stoplist of common
English words are dropped, as is any word that contains one of the short English words in
`_EMBEDDED` (so a nonce word does not read as English). The draw is seeded: running this script again
writes the same file.

    python scripts/make_lexicon.py            # writes metaex/data/lexicon.txt
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "metaex" / "data" / "lexicon.txt"
SIZE = 1500
SEED = 20261126
ONSETS = "bdfgklmnprstvz"
VOWELS = "aeiou"
CODAS = "lmnrs"

# Common English words of 3–7 letters that the syllable shapes above can produce, and more besides.
STOPLIST = set("""
able about above after again also among and any are area arm art bad bag ban bar base bed bell best big bill
bin bird bit body bone book born both box boy bus but buy came can car care case cat dam day dead deal dear
den did die dig dim din dog done dot down far fat fed fee feel fell felt few fig fin fine fire fit fix for
form fun fur gag game gas get gin god good got gum gun gut had ham has hat her him his hot kin kit lab lad
lag lap law led leg let lid line lip lit log lot mad man map mat men met mid mix mob mom mud nab nag nap net
nod nor not now nun nut one pad pal pan par pat peg pen pet pig pin pit pod pop pot pun pup put rag ram ran
rat red rib rid rim rip rob rod rot rub rug rum run sad sat see set sin sip sir sit six sob son sub sum sun
tab tag tan tap tar ten the tin tip ton top tub tug van vat vet via vim was web wet who win won yes yet zen
zip zoo baker banana basin begin benefit bonus cabin camel canal canon cola comet coral data debut decal
demon denim digit dinner dose fade fame fatal fever final finer gala genus gene kilo koala label laden lady
lake lame lane later lava lemon lever liken limit linen loner lotus lumen lunar made make male mane mare
mate medal melon menu merit metal meter minor model moral motel motor mural music name nose note novel pager
panel papa paper pedal peril petal pile pilot pine pole polo puma rabbit radar rebel relic remit risen
robin robot rodeo rose rotor ruler sale salon same sane satin seminar siren sitar sole solo sonar sore
tame tamer tenor tidal timer title tonal total tube tumor tuna tune valid value vapor vase venom verb
vine viral visa vital vocal vole vote zebra zero zone alone amen anal arena atom dial diet duel idea iris
item riot ruin lion lime tile tire role rule mile mole mule nine pale pure rare ride ripe robe rope rude
safe site size tale tone tore vile wire done gone bone cone dime dune fume game gave kite mime mute
baron bile date dozen fete lire live lope mete mire mope nude none page pone rite sone tome tote vale zeta
lobes logo luke lute mike sugar tutor voter nobel robo nano rubin lima roma lisa kira nina tina dana lena
sara mama bebe deme gene mere pose rose nose dose lobe robe tube cube dune fuse muse ruse lure pure cure
bore core fore gore more pore sore tore wore bake cake fake lake make rake sake take wake bike hike like
pike dime lime mime time dire fire hire tire wire bone cone hone lone tone zone kale male pale sale tale
mole pole role sole hole dole fume lure mare bare care dare fare rare ware rise vise wise mode node rode
bode code diva koala kebab kimono karate zebu lulu tutu tofu sumo judo kudo bogus bonus focus locus
lotus minus sinus torus virus radius genus human lemur rumor tumor humor tenor manor furor valor
visor rotor motor donor honor major minor tabu lava tuba nova soda coda sofa boa diva kava gala
""".split())
# short English words that make a longer nonce word read as English when embedded
_EMBEDDED = ("sex", "kill", "rape", "nazi", "porn", "damn", "god", "die", "dead", "dumb", "fat", "ass")


def _word(rng: random.Random) -> str:
    syllables = rng.choice((2, 2, 3))
    parts = []
    for k in range(syllables):
        coda = rng.choice(CODAS) if k == syllables - 1 and rng.random() < 0.4 else ""
        parts.append(rng.choice(ONSETS) + rng.choice(VOWELS) + coda)
    return "".join(parts)


def make(size: int = SIZE, seed: int = SEED) -> list[str]:
    rng = random.Random(seed)
    words: dict[str, None] = {}
    while len(words) < size:
        w = _word(rng)
        if 3 <= len(w) <= 7 and w not in STOPLIST and not any(e in w for e in _EMBEDDED):
            words.setdefault(w, None)
    return sorted(words)


def main() -> int:
    words = make()
    OUT.write_text("\n".join(words) + "\n", encoding="utf-8")
    print(f"wrote {len(words)} words to {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
