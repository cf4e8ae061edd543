#include "eval/words.h"

#include <algorithm>

namespace harpe::eval {
namespace {

std::vector<std::string_view> split_words(const char* text) {
  std::vector<std::string_view> out;
  std::string_view s(text);
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n')) ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\n') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

const char* kAdjectives = R"(
able absent abstract acidic active actual adept agile airy alert alive ample ancient angry
annual anxious arctic arid artful ashen astute atomic august awake aware awkward balmy bare
basic bashful bitter bland blank bleak blind blissful blond bloody blue blunt bold bony
boring bossy bouncy brave brief bright brisk broad broken bronze brown bubbly bulky burly
busy calm candid capable careful casual cautious central certain cheap cheerful chilly
chubby civil clean clear clever close cloudy clumsy coarse cold common complex cool
cosmic costly cozy crafty creamy crisp crooked crowded cruel crunchy cubic curious curly
cute damp dapper daring dark dazzling dear decent deep dense dental devout dim direct
dirty distant divine dizzy dreamy dry dull dusty eager early earnest easy eerie elastic
elder electric elegant empty endless entire equal even exact exotic faint fair faithful
false famous fancy fast fatal feisty fertile fierce filthy final fine firm flat fluffy
fond formal fragile frank free fresh friendly frosty frozen fruity full funny fuzzy
gentle giant giddy gifted glad gleaming global glossy golden good graceful grand grassy
grave gray greasy great green grim gritty grumpy guilty hairy handy happy hardy harsh
hasty healthy heavy hidden hollow honest hopeful huge humble humid hungry icy idle
immense innocent intense ironic jagged jolly joyful juicy keen kind large lazy lean
legal level light likely limp liquid little lively local lofty lonely loose loud lousy
loyal lucky lumpy lunar lush mad magnetic major male marine massive mature meager mellow
merry messy mighty mild minor misty modern modest moist moral muddy murky musty mute
narrow nasty native naval neat needy nervous new nimble noble noisy normal nosy numb
odd oily old open orange organic oval pale patient peaceful perfect petite plain pleasant
plump polar polite poor precise pretty prickly proud pure purple quaint quick quiet
radiant rapid rare raw ready real regal remote rich rigid ripe robust rocky rosy rough
round royal rugged rural rustic sacred sad safe salty sandy scarce secret serene sharp
shiny short shy silent silky silver simple sleek slim slow small smart smooth snowy
soft solar solid sour spare sparkling spicy spotless square stale steady steep sticky
stiff stormy strange strict strong sturdy subtle sunny super sweet swift tall tame tart
tender tense thick thin thirsty tidy tight timid tiny tired tough tranquil tropical
true twin ugly unique upbeat urban useful vacant vague valid vast velvet verbal violet
vital vivid warm wary weak wealthy weary wet whole wicked wide wild windy wise witty
wooden woolly worn yellow young zealous zesty
)";

const char* kNouns = R"(
acorn actor airport album alley almond anchor angle ankle apple apron arch arena armor
arrow artist atlas attic author autumn avenue badge bakery balcony ball balloon bamboo
banana band bank barn barrel basket battery beach beacon bean bear beard bed beetle bell
belt bench berry bicycle bird biscuit blanket blossom boat bolt bone book boot bottle
boulder bowl box bracelet branch bread brick bridge brook broom bubble bucket buffalo
bugle bundle butter button cabin cable cactus cake camel camera camp canal candle cannon
canoe canvas canyon captain carpet carrot castle cat cave cedar cellar chain chair chalk
channel chapel cheese cherry chest chimney circle city cliff clock cloud clover coast
coat cobra coconut coffee coin comet compass cookie copper coral corner cottage cotton
couch court cousin crane crater crayon creek crown crystal cup curtain cushion daisy
dancer desert desk diamond dinner dock doctor dolphin donkey door dragon drawer dream
drum duck eagle earth echo elbow engine envelope falcon farm feather fence fern ferry
field fig finger fire flag flame flute fog forest fork fossil fountain fox frog garden
garlic gate gem ghost giraffe glacier glass globe glove goat gold gorilla grape grass
guitar hammer harbor harp hat hawk heart hedge helmet hill honey hook horizon horse
hotel house iceberg igloo island ivory jacket jaguar jar jelly jewel journal jungle
kettle key king kitchen kite kitten knife ladder lagoon lake lamp lantern lava lawn
leaf lemon leopard letter library lighthouse lily lion lizard lobster locket lodge loom
magnet mango maple map marble market meadow melon mermaid meteor mill mirror mitten
monkey moon moose mountain mouse mug museum mushroom nail napkin needle nest net novel
nut oak oasis ocean octopus olive onion orbit orchard orchid otter owl oyster paddle
palace panda paper parade parrot path peach peak pearl pebble pelican pencil pepper
piano pickle pier pigeon pillow pilot pine pipe pirate planet plum pocket pond poppy
portrait potato prairie prism pumpkin puppet puzzle pyramid quarry queen quill rabbit
raccoon radio raft rainbow raven reef ribbon river road robin rocket roof rose ruby
saddle sail salmon sand satchel scarf school scroll seal shadow shark shell shelf ship
shore shovel signal silk singer sky sled snail snake spider spoon spring squirrel stable
stadium star statue stone storm stream street summit sun swan sword table tablet teapot
temple tent thimble thunder tiger timber toast tomato torch tower tractor trail train
treasure tree trumpet tulip tunnel turtle umbrella valley vase velvet village violin
volcano wagon walnut walrus wand wave whale wheat wheel whistle willow window winter
wizard wolf wool yacht yard zebra zipper
)";

const char* kVerbs = R"(
accept admire advise agree allow answer appear argue arrange arrive ask attach attack
bake balance bathe beg behave belong blink boil borrow bounce breathe build burn buzz
calculate call carry carve catch chase cheer chew choose clap climb collect comfort
compare complain count crawl cross cry dance decide deliver depend describe destroy
divide drag draw dream drift drink drive earn enjoy escape examine explain explore fasten
fetch fill find fix float fly fold follow forgive gather glow grab grin grow guard guess
hammer hang harvest hatch heal help hop hover hug hunt hurry imagine improve inform
invent invite jog join juggle jump kick kneel knit knock laugh launch learn lift listen
march marry measure melt mend mix nod notice obey offer open order paint pass pause
perform pick plant play plead polish pour pray pretend print promise pull punch push
question race rain reach read relax remember repair reply rescue rest return rhyme
ride ring roll row rush sail scatter scream search shiver shout sing sketch skip slide
smile sneeze sniff snore solve sort spell spill splash spray sprint squeeze stack stare
steer stir stretch study swim swing talk taste teach thank throw tickle travel trust
tumble twist type unfold unlock vanish visit wait walk wander wash watch wave weave
whisper whistle wink wish wobble wonder worry wrap write yawn yell zoom
)";

std::vector<std::string_view> sorted_unique(std::vector<std::string_view> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

}  // namespace

const std::vector<std::string_view>& adjectives() {
  static const std::vector<std::string_view> v = sorted_unique(split_words(kAdjectives));
  return v;
}

const std::vector<std::string_view>& nouns() {
  static const std::vector<std::string_view> v = sorted_unique(split_words(kNouns));
  return v;
}

const std::vector<std::string_view>& verbs() {
  static const std::vector<std::string_view> v = sorted_unique(split_words(kVerbs));
  return v;
}

const std::vector<std::string_view>& all_words() {
  static const std::vector<std::string_view> v = [] {
    std::vector<std::string_view> all = adjectives();
    all.insert(all.end(), nouns().begin(), nouns().end());
    all.insert(all.end(), verbs().begin(), verbs().end());
    return sorted_unique(all);
  }();
  return v;
}

}  // namespace harpe::eval
