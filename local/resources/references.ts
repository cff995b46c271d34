/** Logical ids a template value refers to through Ref, Fn::GetAtt or Fn::Sub. */
export function referencedLogicalIds(value: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    value.forEach((item) => referencedLogicalIds(item, found));
  } else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (key === 'Ref' && typeof item === 'string') found.add(item);
      else if (key === 'Fn::GetAtt') found.add(Array.isArray(item) ? String(item[0]) : String(item).split('.')[0]!);
      else if (key === 'Fn::Sub') {
        const text = Array.isArray(item) ? item[0] : item;
        for (const match of String(text).matchAll(/\$\{([^!}][^}.]*)/g)) found.add(match[1]!);
        if (Array.isArray(item)) referencedLogicalIds(item[1], found);
      } else referencedLogicalIds(item, found);
    }
  }
  return found;
}

/** Orders ids so that each comes after the ids (of the same set) it references. */
export function dependencyOrder<T>(items: ReadonlyMap<string, T>, references: (item: T) => Set<string>): string[] {
  const ordered: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string) => {
    if (state.get(id)) return; // done, or a cycle CloudFormation would reject anyway
    state.set(id, 'visiting');
    for (const other of references(items.get(id)!)) if (items.has(other) && other !== id) visit(other);
    state.set(id, 'done');
    ordered.push(id);
  };
  for (const id of items.keys()) visit(id);
  return ordered;
}
