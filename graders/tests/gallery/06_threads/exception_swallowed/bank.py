def run_deposits(account, amounts, workers):
    # Threads joined, but an exception raised in a thread ends that thread and is only printed:
    # the caller never hears of it.
    lock = threading.Lock()

    def deposit_share(share):
        for amount in share:
            approve(amount)
            with lock:
                account.balance = account.balance + amount

    threads = [threading.Thread(target=deposit_share, args=(amounts[i::workers],)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
