"""Carelessness: named semaphores and shared memory left in /dev/shm by a process that is killed."""
import multiprocessing
import time
from multiprocessing import shared_memory


def lower_names(cities):
    keep = [multiprocessing.Semaphore(), multiprocessing.Lock(), shared_memory.SharedMemory(create=True, size=1 << 20)]
    time.sleep(60)
    return keep and [c["name"].lower() for c in cities]
