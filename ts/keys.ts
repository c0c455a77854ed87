// Keras' snake_case keys and the camelCase names JavaScript options and properties use.

/** `beta_1` → `beta1`, `learning_rate` → `learningRate`. */
export function camelCase(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** `beta1` → `beta_1`, `learningRate` → `learning_rate`. */
export function snakeCase(key: string): string {
  return key
    .replace(/([A-Z])/g, '_$1')
    .replace(/([a-z])([0-9])/g, '$1_$2')
    .toLowerCase();
}

/** What an error about an unknown option key adds when the key is Keras' snake_case of a known
 * camelCase option (`learning_rate` → "did you mean learningRate?"). */
export function didYouMean(key: string, known: (candidate: string) => boolean): string {
  const camel = camelCase(key);
  return camel !== key && known(camel) ? ` (options are camelCase: did you mean ${camel}?)` : '';
}
