// A replica module without a step function.
export const nothing = 1;
