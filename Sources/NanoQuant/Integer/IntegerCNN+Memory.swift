/// What an `IntegerCNN` costs a microcontroller, computed once here for the C export's `model.h`
/// (`FLASH_BYTES`, `RAM_BYTES`) and the compression report's per-stage flash and RAM columns, so
/// the two always agree.
extension IntegerCNN {
    /// How activations are laid out in the arena: row streaming (`RowSchedule`), whole tensors one
    /// operation after another, or whichever of the two needs fewer bytes.
    public enum ActivationLayout: Sendable { case smallest, streamed, wholeTensors }

    /// The arena of one layout: the schedule of the work, the tensors' offsets, and the size of
    /// the layout not taken (for the export's notes).
    public struct MemoryPlan: Sendable {
        public var schedule: RowSchedule
        public var arena: ArenaPlan
        /// Whether operations run interleaved row by row.
        public var streamed: Bool
        /// The arena bytes the other layout would need.
        public var otherLayoutBytes: Int
    }

    /// The arena plan for `layout`; `.smallest` streams rows only where that saves memory (a
    /// small model's rings can cost more than its tensors).
    public func memoryPlan(_ layout: ActivationLayout = .smallest) -> MemoryPlan {
        let streamed = RowSchedule(self), whole = RowSchedule(wholeTensorsOf: self)
        let streamedPlan = ArenaPlan(sizes: streamed.sizes, lifetimes: streamed.lifetimes)
        let wholePlan = ArenaPlan(sizes: whole.sizes, lifetimes: whole.lifetimes)
        let streaming = layout == .streamed || (layout == .smallest && streamedPlan.size < wholePlan.size)
        return streaming
            ? MemoryPlan(schedule: streamed, arena: streamedPlan, streamed: true, otherLayoutBytes: wholePlan.size)
            : MemoryPlan(schedule: whole, arena: wholePlan, streamed: false, otherLayoutBytes: streamedPlan.size)
    }

    /// Bytes of constant tables in flash: int8 weights, int32 biases and multipliers, int8 shifts
    /// (`model.h`'s `FLASH_BYTES`; the code itself is not counted).
    public var flashBytes: Int {
        let c = constantBytes
        return c.weights + c.biases + c.multipliers + c.shifts
    }

    /// Bytes of the one static activation arena of the C export's default layout (`model.h`'s
    /// `RAM_BYTES`).
    public var ramBytes: Int { memoryPlan().arena.size }
}
