/** `npm run new -- consumer …`: the generator of exactly-once consumers. */
export * from './args.js';
export * from './errors.js';
export * from './generate.js';
export * from './names.js';
export * from './render.js';
