// tfjs-layers' save/load with the optimizer, in memory (the tfjs adapter tests).
import * as tf from '@tensorflow/tfjs';

/** An in-memory IOHandler: `save` keeps the artifacts (with the optimizer's weights), which
 * `tf.io.fromMemory` loads. */
export async function saveToMemory(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    { includeOptimizer: true },
  );
  return saved!;
}
