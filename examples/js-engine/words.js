// 256 short, common, unambiguous English words: each word of a passphrase carries
// exactly 8 bits of entropy (the engine picks words with rejection sampling).
export const WORDS = `
able acid aged also area army away baby back ball band bank base bath bear beat
bell belt best bird blow blue boat body bone book boot born boss both bowl bulk
burn bush busy cake calm camp card care cart case cash cast cell chat chip city
clay club coal coat code cold comb cone cook cool copy cord corn cost crew crop
cube cure dark dash data dawn deal dear deck deep deer desk dial dice diet dirt
dish dock door dose down draw drop drum duck dust duty each earn ease east easy
echo edge envy epic even exit face fact fair fall farm fast fern file film fire
firm fish flag flat flow foam fold folk food foot fork form fort free frog fuel
full fund gain game gate gear gift glad glow glue goat gold golf good gown grab
gray grid grip grow gulf hair half hall hand harp hawk head heat herb hero hill
hint hive hold hole home hook hope horn host hour huge hunt idea inch iron item
jade jazz join joke jump jury keen kelp kept kick kind king kite knee knot lace
lake lamp land lane last leaf lens life lift lime line link lion list loaf lock
loft lone loop lord loud love luck lung maid mail main malt mane maze meal melt
menu mild milk mill mind mint mist mode mood moon moss moth much mule muse myth
nail name navy neck nest news next nice node noon nose note oath oboe odor oven
`.trim().split(/\s+/);
