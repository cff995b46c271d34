import { ScaffoldError } from './errors.js';

/**
 * Renders a template: keeps or drops `//#if <flag>` / `//#else` / `//#endif` sections (whole lines, nestable), then
 * replaces `{{var}}` placeholders. An unknown flag or placeholder is an error, so a template typo cannot ship.
 */
export function renderTemplate(
  template: string,
  flags: Readonly<Record<string, boolean>>,
  vars: Readonly<Record<string, string>>,
  templateName = 'template',
): string {
  const out: string[] = [];
  const stack: { keep: boolean }[] = [];
  const keeping = () => stack.every((s) => s.keep);
  for (const [index, line] of template.split('\n').entries()) {
    const directive = /^\s*\/\/#(if|else|endif)\b\s*(!?)(\w*)\s*$/.exec(line);
    if (!directive) {
      if (keeping()) out.push(line);
      continue;
    }
    const [, kind, negate, flag] = directive;
    const where = `${templateName}:${index + 1}`;
    if (kind === 'if') {
      if (!(flag! in flags)) throw new ScaffoldError(`${where}: unknown template flag "${flag}"`);
      const value = flags[flag!]!;
      stack.push({ keep: negate ? !value : value });
    } else if (kind === 'else') {
      const top = stack.at(-1);
      if (!top) throw new ScaffoldError(`${where}: //#else without //#if`);
      top.keep = !top.keep;
    } else {
      if (!stack.pop()) throw new ScaffoldError(`${where}: //#endif without //#if`);
    }
  }
  if (stack.length > 0) throw new ScaffoldError(`${templateName}: ${stack.length} //#if without //#endif`);
  return out.join('\n').replace(/\{\{(\w+)\}\}/g, (_match, name: string) => {
    const value = vars[name];
    if (value === undefined) throw new ScaffoldError(`${templateName}: unknown placeholder {{${name}}}`);
    return value;
  });
}
