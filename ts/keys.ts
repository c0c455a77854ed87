// Keras' snake_case keys and the camelCase names JavaScript options and properties use.

/** `beta_1` → `beta1`, `learning_rate` → `learningRate`. */
export function camelCase(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** `beta1` → `beta_1`, `learningRate` → `learning_rate`. */
export function snakeCase(key: string): string {
  return key.replace(/([A-Z])/g, '_$1').replace(/([a-z])([0-9])/g, '$1_$2').toLowerCase();
}
