"""Words that say nothing about what a comment is about, per language (en, de, fr).

Each list holds the language's function words (articles, pronouns, auxiliaries,
prepositions, conjunctions, common adverbs) and the filler of survey comments:
praise and blame words ("great", "super", "nul"), "product", "thanks", "nothing to
add". `cxops themes suggest` drops them before looking for keywords, so a proposed
theme is about a subject, not a mood. Words are compared case-folded.
"""

from __future__ import annotations

_EN = """
a about above after again against all almost also although always am an and another any
anything are aren around as at away back be because been before being below between both
but by can cannot could couldn did didn do does doesn doing don done down during each
either else enough especially etc even ever every everything few for from further get gets
getting got had hadn has hasn have haven having he her here hers herself him himself his how
however i if in into is isn it its itself just least less let like likes liked ll lot lots
made make makes making many may maybe me might mine more most much must my myself need
needs needed neither never no nor not nothing now of off often on once one ones only or
other others otherwise our ours ourselves out over own per perhaps please quite rather re
really same see seem seems she should shouldn since so some something sometimes still such
sure than that the their theirs them themselves then there these they thing things think
this those though through thus to too under until up upon us use used uses using very via
want wants was wasn way we well were weren what whatever when where whether which while who
whom whose why will with within without won would wouldn yes yet you your yours yourself
ve d s t m
good great bad better best worse worst nice fine awesome amazing excellent terrible
horrible love loved hate ok okay overall pretty happy unhappy satisfied product products
service company team tool thanks thank keep work works working worked job add say said
feel felt also lot little bit time times year years month months day days recommend
recommended everyone anyone someone people us acme sometimes definitely absolutely
give gives gave given feature features option options function functions able
"""

_DE = """
aber alle allem allen aller alles als also am an ander andere anderem anderen anderer
anderes anderm andern anders auch auf aus bei bin bis bist bitte da dabei dadurch dafür
dagegen daher dahin damals damit danach dann daran darauf daraus darin darum darunter das
dass daß dein deine deinem deinen deiner dem den denn dennoch der deren des deshalb dessen
dich die dies diese diesem diesen dieser dieses dir doch dort du durch eben ebenfalls ein
eine einem einen einer eines einfach einig einige einigem einigen einiger einiges einmal er
es etwa etwas euch euer eure eurem euren eurer für gab gar gegen gewesen gibt ging habe
haben hat hatte hatten hier hin hinter ich ihm ihn ihnen ihr ihre ihrem ihren ihrer ihres
im immer in indem ins ist ja jede jedem jeden jeder jedes jedoch jene jenem jenen jener
jenes jetzt kann kannst kaum kein keine keinem keinen keiner keines können könnte könnten
man manche manchem manchen mancher manches mehr mein meine meinem meinen meiner meines
mich mir mit muss musste müssen nach nachdem nein nicht nichts noch nun nur ob obwohl oder
ohne schon sehr sein seine seinem seinen seiner seines seit selbst sich sie sind so solche
solchem solchen solcher solches soll sollte sollten sondern sonst sowie über um und uns
unser unsere unserem unseren unserer unter viel viele vielleicht vom von vor wann war waren
warum was weil weiter weitere welche welchem welchen welcher welches wenn wer werde werden
wie wieder will wir wird wirklich wo wollen wollte worden wurde wurden würde würden zu zum
zur zwar zwischen ganz gern gerne leider oft mal halt eigentlich bereits genau
gut gute guten gutes super toll prima klasse schlecht schlechter besser beste schön
zufrieden unzufrieden insgesamt produkt produkte service firma team tool danke vielen dank
weiter weiterhin machen macht gemacht arbeit arbeiten funktioniert sache sachen zeit jahr
monat tag tage empfehlen empfehle alles top acme funktion funktionen möglichkeit
ab auf aus ein mit vor weg zurück los fest her hin
"""

_FR = """
à a afin ai aie aient ainsi alors as au aucun aucune aujourd aujourdhui auprès aussi autre
autres aux avaient avais avait avant avec avez avoir avons bien c ça car ce ceci cela celle
celles celui cependant certain certaine certains ces cet cette ceux chaque chez ci comme
comment d dans de des depuis donc dont du elle elles en encore entre es est et étaient
était été être eu eux fait faire fais faut fois font hors ici il ils j je jusqu l la là le
les leur leurs lors lui m ma mais me même mêmes mes moi moins mon n ne ni non nos notre
nous on ont ou où par parce pas peu peut peuvent plus plusieurs pour pourquoi pourrait
puis qu quand que quel quelle quelles quels qui quoi s sa sans se sera serait ses seul si
sien son sont souvent sous soit suis sur t ta tant te tel telle tes toi ton toujours tous
tout toute toutes très trop tu un une vers via vos votre vous vraiment y déjà donc voilà
cas chose choses beaucoup assez rien merci avoir besoin aimerais voudrais souhaiterais
bon bonne bons bien mieux mal nul super génial excellent excellente parfait parfaite top
satisfait satisfaite content contente globalement produit produits service équipe outil
société entreprise travail marche fonctionne continuez temps an ans année mois jour jours
recommande recommander acme fonctionnalité fonctionnalités option options possibilité
"""


def _words(text: str) -> frozenset[str]:
    return frozenset(word.casefold() for word in text.split())


#: Language (a locale's primary subtag) -> its stop words, case-folded.
STOP_WORDS: dict[str, frozenset[str]] = {"en": _words(_EN), "de": _words(_DE), "fr": _words(_FR)}
#: Every language's stop words: for comments in a language without a list of its own.
ANY_STOP_WORD: frozenset[str] = frozenset().union(*STOP_WORDS.values())
