// The zero-configuration default: the wasm embedded in the JavaScript.
import { ready } from 'simdopt';

export const init = () => ready();
