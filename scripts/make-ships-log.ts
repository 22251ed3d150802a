/**
 * Writes public/samples/ships-log.txt: 240 entries of an invented sailing ship's log, one entry
 * per paragraph, from word lists written for this project (CC0). A genre with a strong, regular
 * voice (weather, course, sightings, chores, the crew), which a model pretrained on the KJV does
 * not write until it is fine-tuned on it. Seeded, so the file is reproducible:
 *   npx tsx scripts/make-ships-log.ts
 */
import { writeFileSync } from 'node:fs';
import { seededRandom } from '../src/adapters/init';

const random = seededRandom(1720);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

const DIRECTIONS = ['north', 'north-east', 'east', 'south-east', 'south', 'south-west', 'west', 'north-west'];
const WINDS = ['light airs', 'a gentle breeze', 'a fresh breeze', 'a strong breeze', 'a near gale', 'a strong gale'];
const SEAS = ['sea calm', 'sea slight', 'sea moderate', 'sea rough', 'a long swell', 'a heavy swell'];
const WEATHER = ['fair', 'overcast', 'rain squalls', 'fog in the morning watch', 'clear skies', 'drizzle at dusk', 'thunder to leeward'];
const SPEEDS = ['three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
const SIGHTINGS = [
  'a whaler',
  'a brig under full sail',
  'land',
  'two gulls',
  'a waterspout',
  'a school of dolphins',
  'driftwood',
  'a lighthouse',
  'a merchant ship flying no colours',
];
const BEARINGS = ['off the port bow', 'off the starboard bow', 'on the port quarter', 'on the starboard quarter', 'dead ahead', 'astern'];
const TIMES = ['at dawn', 'at noon', 'in the first watch', 'at eight bells', 'before supper', 'in the dog watch'];
const CHORES = [
  'Mended the mainsail.',
  'Pumped the bilge.',
  'Scrubbed the decks.',
  'Tarred the rigging.',
  'Set the topsails.',
  'Reefed the mainsail.',
  'Took soundings, no bottom found.',
  'Opened a cask of water.',
  'The cook served salt pork and biscuit.',
  'The carpenter repaired the jolly boat.',
];
const CREW = [
  'All hands well.',
  'Two men sick with fever.',
  'The captain kept to his cabin.',
  'Crew in good spirits.',
  'Doubled the watch.',
  'One man flogged for sleeping on watch.',
];

function entry(day: number): string {
  const wind = `Wind ${pick(DIRECTIONS)}, ${pick(WINDS)}; ${pick(SEAS)}; ${pick(WEATHER)}.`;
  const course = `Course ${pick(DIRECTIONS)}, ${pick(SPEEDS)} knots.`;
  const sighting = `Sighted ${pick(SIGHTINGS)} ${pick(BEARINGS)} ${pick(TIMES)}.`;
  const chores = random() < 0.5 ? pick(CHORES) : `${pick(CHORES)} ${pick(CHORES)}`;
  return `Day ${day}. ${wind} ${course} ${sighting} ${chores} ${pick(CREW)}`;
}

const entries = Array.from({ length: 240 }, (_, i) => entry(i + 1));
writeFileSync('public/samples/ships-log.txt', `${entries.join('\n\n')}\n`);
console.log(`wrote public/samples/ships-log.txt (${entries.length} entries)`);
