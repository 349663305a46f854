extension ParameterStore {
    /// Sets `name` to `value`, copying into the existing buffer when there is
    /// one so that whatever already holds it (a session, a compiled plan) sees the new values.
    func assign(_ name: String, _ value: TensorValue) throws {
        guard self.value(name)?.shape == value.shape, let existing = buffer(name) else { return try set(name, value) }
        existing.pointer.update(from: value.buffer.pointer, count: value.shape.count)
    }
}
