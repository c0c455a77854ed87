// Keras 3's registry of serializable custom objects (`keras.saving.register_keras_serializable`):
// a custom optimizer class registered under `"package>Name"`, which `serialize` writes as its
// `registered_name` and `deserialize` / `get` look up before `customObjects`, as Keras does.
import { ArgumentError } from '../errors.js';
import { describeValue } from '../values.js';

/** A class with Keras 3's `from_config` (a custom optimizer class). */
type RegisteredClass = abstract new (...args: never[]) => unknown;

const byName = new Map<string, RegisteredClass>();
const nameOf = new Map<RegisteredClass, string>();

/** What {@link registerKerasSerializable} returns: `register(MyOptimizer)`, or `@register` on the class. */
export type Registration = <C extends abstract new (...args: never[]) => unknown>(cls: C, context?: unknown) => C;

/**
 * Keras 3's `register_keras_serializable(package='Custom', name=None)`: registers a custom
 * optimizer class under `"package>name"` (`name` defaults to the class's name), so that
 * `serialize` writes that `registered_name` and `deserialize` / `get` find the class without
 * `customObjects`. Use it as a function, `registerKerasSerializable('my_package')(MySGD)`, or
 * as a class decorator. Registering a name again replaces the class, as in Keras.
 */
export function registerKerasSerializable(packageName = 'Custom', name?: string): Registration {
  if (typeof packageName !== 'string') throw new ArgumentError('InvalidArgument', `the package must be a string, got ${describeValue(packageName)}`);
  if (name !== undefined && name !== null && typeof name !== 'string') throw new ArgumentError('InvalidArgument', `the name must be a string, got ${describeValue(name)}`);
  return <C extends RegisteredClass>(cls: C): C => {
    if (typeof cls !== 'function' || typeof (cls as unknown as { fromConfig?: unknown }).fromConfig !== 'function') {
      throw new ArgumentError('InvalidArgument', `Cannot register a class that does not have a get_config() method (a Keras 3 Optimizer subclass), got ${describeValue(cls)}`);
    }
    const key = `${packageName}>${name ?? cls.name}`;
    const previous = nameOf.get(cls);
    if (previous !== undefined) byName.delete(previous);
    byName.set(key, cls);
    nameOf.set(cls, key);
    return cls;
  };
}

/** The class registered under `registeredName`, if any (Keras' `get_registered_object`). */
export function registeredClass(registeredName: string): unknown {
  return byName.get(registeredName);
}

/** The name a class is registered under (Keras' `get_registered_name`), if it is. */
export function registeredName(cls: unknown): string | undefined {
  return nameOf.get(cls as RegisteredClass);
}

/** The one registered class named `className` (by its registered name's last part or its own
 * name), if exactly one is. */
export function registeredByClassName(className: string): unknown {
  const found = [...nameOf].filter(([cls, key]) => cls.name === className || key.endsWith(`>${className}`));
  return found.length === 1 ? found[0][0] : undefined;
}
